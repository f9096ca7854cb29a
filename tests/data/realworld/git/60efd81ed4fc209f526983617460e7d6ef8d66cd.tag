object ffb293b63d13b3b06b454a5f9f0ff6802ef15f0d
type commit
tag v1.5.2.4
tagger Junio C Hamano <gitster@pobox.com> 1184266925 -0700

GIT 1.5.2.4
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.6 (GNU/Linux)

iD8DBQBGlnqwwMbZpPMRm5oRAhzOAKCTFw3ObwQP5BI7anStHYg1DKebNQCeKHBC
GWHuzVbFD6MIu95EE62KCkg=
=YE/n
-----END PGP SIGNATURE-----
