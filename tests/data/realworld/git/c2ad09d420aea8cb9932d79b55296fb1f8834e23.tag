object 6c7f58d6f691c1091b90b0891e94c91e20fd6054
type commit
tag v1.6.3.2
tagger Junio C Hamano <gitster@pobox.com> 1244094473 -0700

GIT 1.6.3.2
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAkonYAkACgkQwMbZpPMRm5p1vwCfeghzxD5usc2Rs7kKw4Xc9ASe
6noAnirJS2B/+dXNEcWKeq3VduKLYtnV
=T1SS
-----END PGP SIGNATURE-----
