object b2c2e4c22c6a4fe151f02380d247cf3d9a9d5d1e
type commit
tag v1.7.0-rc0
tagger Junio C Hamano <gitster@pobox.com> 1264384396 -0800

Git 1.7.0-rc0
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAktc+YwACgkQwMbZpPMRm5q1jQCglSm5AgkFn6veNguepIBSlOgr
1doAoIvMToMqXc+NFLNw1oAxlMKYmg6g
=i7tm
-----END PGP SIGNATURE-----
