object 883653babd8ee7ea23e6a5c392bb739348b1eb61
type commit
tag v1.4.2.1
tagger Junio C Hamano <junkio@cox.net> 1158138501 -0700

GIT 1.4.2.1

Minor fixes since 1.4.2, including git-mv and git-http with alternates.
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.5 (GNU/Linux)

iD8DBQBFB8qJwMbZpPMRm5oRAvDcAJ9ToU2DxbdoFBNnmOswVJpAoyRaJACdG3D0
0nWpCjBUUeeOSx2kNG5durs=
=lvOK
-----END PGP SIGNATURE-----
