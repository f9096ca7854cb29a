object 718258e256b74622aa55f5ee0cb9cff4cce6bf9f
type commit
tag v1.6.0.6
tagger Junio C Hamano <gitster@pobox.com> 1229744955 -0800

GIT 1.6.0.6
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAklMazwACgkQwMbZpPMRm5qccwCdHrJmuqR5Rk8gZn3ORLSdtmZg
kH4Anj8Ab58vabcHoQws0g3UlhA7hUm9
=7yBE
-----END PGP SIGNATURE-----
