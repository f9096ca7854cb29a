object 7af4fc9cf3e3538a9bfb8b14feeacdeb7f6db7d5
type commit
tag v1.7.6-rc3
tagger Junio C Hamano <gitster@pobox.com> 1308784479 -0700

Git 1.7.6-rc3
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.10 (GNU/Linux)

iEYEABECAAYFAk4Cd18ACgkQwMbZpPMRm5qWsACgmgpGFVpwcmkQ90GiBIhoNcLU
j9oAoJ67YOS454kZHuUX+b58DqBxBlvA
=Zm8D
-----END PGP SIGNATURE-----
