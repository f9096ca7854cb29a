object a3eb250f996bf5e12376ec88622c4ccaabf20ea8
type commit
tag v0.99

Test-release for wider distribution.

I'll make the first public RPM's etc, thus the tag.
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.1 (GNU/Linux)

iD8DBQBC0b9oF3YsRnbiHLsRAlUUAKCJEyvw8tewGFKd/A3aCd82Wi/zAgCgl7z4
GYPjO+Xio0IvuEYsrhFc2KI=
=TVVN
-----END PGP SIGNATURE-----
