object e4e79a217576d24ef4d73b620766f62b155bcd98
type commit
tag v1.0.0a
tagger Junio C Hamano <junkio@cox.net> 1135199961 -0800

GIT 1.0.0a
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.2 (GNU/Linux)

iD8DBQBDqcbdwMbZpPMRm5oRAmjQAJ9KDsq71/PqqMfoIlZzsWm2Qcit8ACcCV27
zMeYV3E1w85d/ojeP253enw=
=YdYA
-----END PGP SIGNATURE-----
