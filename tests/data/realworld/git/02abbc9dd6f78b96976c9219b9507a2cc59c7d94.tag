object 7c181d627c136cbc67ef0f722e74e34017e662f0
type commit
tag v1.6.0.4
tagger Junio C Hamano <gitster@pobox.com> 1226208581 -0800

GIT 1.6.0.4
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAkkWdUUACgkQwMbZpPMRm5rSmwCfWu+K/hXyLUnEWoOMYy1eKuMK
KcoAnjB2qir794ibWPy6cn11uUbk7AlC
=eaFZ
-----END PGP SIGNATURE-----
