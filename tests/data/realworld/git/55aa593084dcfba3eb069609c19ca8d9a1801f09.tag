object f8dd64fdbf47ac65c1b8d2ed25b789ae2655f8c8
type commit
tag v1.5.4.5
tagger Junio C Hamano <gitster@pobox.com> 1206675404 -0700

GIT 1.5.4.5
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.6 (GNU/Linux)

iD8DBQBH7GfQwMbZpPMRm5oRArVAAJ9/g1boISbagDzdolcBdYDhmHzzYgCdG65u
OR4Kd4V5phkSVCm1RhHNP24=
=E/+S
-----END PGP SIGNATURE-----
