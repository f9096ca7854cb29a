object 9504f3d3d2e62cb6fba9e7c61c6fe69dec9053a4
type commit
tag v1.6.6.1
tagger Junio C Hamano <gitster@pobox.com> 1264022970 -0800

Git 1.6.6.1
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAktXdboACgkQwMbZpPMRm5o5cgCfQSECNt45TNi1GDw5lqA2r3/2
x+gAnRvTwEPHyLOjxaCXLTEm+J+bLDbQ
=N/1r
-----END PGP SIGNATURE-----
