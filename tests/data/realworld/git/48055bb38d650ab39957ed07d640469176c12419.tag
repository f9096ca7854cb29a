object a2239b79e554bab92abe47d8568cbbfe5c77ce85
type commit
tag v0.99.8d
tagger Junio C Hamano <junkio@cox.net> 1129425016 -0700

GIT 0.99.8d
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.1 (GNU/Linux)

iD8DBQBDUah7wMbZpPMRm5oRAnspAKCXry821aZ3605RWdi7RtRoZpsd1gCgiYwZ
wWlN2qb5XTzGTjp9NYUqlD8=
=Zt2U
-----END PGP SIGNATURE-----
