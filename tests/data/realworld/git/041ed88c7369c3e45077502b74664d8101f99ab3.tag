object bd9ca0baff88107e26915cdaaf9821dc70a187e3
type commit
tag v1.2.0
tagger Junio C Hamano <junkio@cox.net> 1139778900 -0800

GIT 1.2.0
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.2 (GNU/Linux)

iD8DBQBD76VYwMbZpPMRm5oRAkL4AJ9jJ2ZozxHaRUNJpIDVs29GL75iHACeMHiF
EXO+qKdzwtRIWx9oq0XC340=
=d6ng
-----END PGP SIGNATURE-----
