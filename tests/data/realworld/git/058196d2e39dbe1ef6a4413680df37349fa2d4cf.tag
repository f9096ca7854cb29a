object 4525e8e41a8c0c4246a95097744604ea72198dad
type commit
tag v1.6.4-rc1
tagger Junio C Hamano <gitster@pobox.com> 1247702348 -0700

GIT v1.6.4-rc1
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAkpebUwACgkQwMbZpPMRm5pPuwCfVLO5DOs4DlIDTB7+/EWc90kM
ZSAAnA5qZkP9XBr1uXJwgjaraR+EY23C
=f8xp
-----END PGP SIGNATURE-----
