object 2be10bb5c1cfe15aa4f1b43137ccd17d826d8553
type commit
tag v1.7.0.4
tagger Junio C Hamano <gitster@pobox.com> 1270073537 -0700

Git 1.7.0.4
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAkuzyMEACgkQwMbZpPMRm5opuACfaHIdMmTUq9unqOOawKMjfCPJ
VtwAoIHKS4DVcaiVkyRxl2kLXy1xCvB1
=t/wN
-----END PGP SIGNATURE-----
