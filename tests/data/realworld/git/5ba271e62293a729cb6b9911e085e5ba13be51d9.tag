object 59617ebb746b67921856c00a63f943d43b0abeea
type commit
tag v1.1.2
tagger Junio C Hamano <junkio@cox.net> 1137200682 -0800

GIT 1.1.2
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.2 (GNU/Linux)

iD4DBQBDyE4uwMbZpPMRm5oRAi6nAJjecyWaiOfzzXesvQxDc9FFti5AAJ9ND4Q2
MH1tqHpXghz6MZxdORzXTg==
=UzBb
-----END PGP SIGNATURE-----
