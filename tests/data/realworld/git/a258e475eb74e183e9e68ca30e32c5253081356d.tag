object 703f05ad5835cff92b12c29aecf8d724c8c847e2
type commit
tag v1.7.7
tagger Junio C Hamano <gitster@pobox.com> 1317417666 -0700

Git 1.7.7
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.10 (GNU/Linux)

iEYEABECAAYFAk6GMsIACgkQwMbZpPMRm5ofVwCfYBUtUSSpQU7NVbxsg/olB8wQ
3pQAmwQH3pk2RYIRLgS+IwZbIUPbvRTQ
=s6fV
-----END PGP SIGNATURE-----
