object 9159afbfce955db86373dab95b5f8e31fb763dae
type commit
tag v1.5.2-rc2
tagger Junio C Hamano <junkio@cox.net> 1178438902 -0700

GIT v1.5.2-rc2
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.6 (GNU/Linux)

iD8DBQBGPYz6wMbZpPMRm5oRArsfAKCQfSQgQ000+Moic4XdIXHYNh0MPgCghZoW
N8u/tVZCQLH3ZjbKfsgcX08=
=LoVU
-----END PGP SIGNATURE-----
