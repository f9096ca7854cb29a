object ce33288ea6b81a2f4f5aecd72177bcc8174562ae
type commit
tag v1.5.4-rc4
tagger Junio C Hamano <gitster@pobox.com> 1200878304 -0800

GIT 1.5.4-rc4
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.6 (GNU/Linux)

iD8DBQBHk/LjwMbZpPMRm5oRAsBnAJ9fZVEkw+ObTbp0+NNAYVuguQxDbwCfa1Se
1xPAC9nxY/4Ip5rbTez+okg=
=zGv1
-----END PGP SIGNATURE-----
