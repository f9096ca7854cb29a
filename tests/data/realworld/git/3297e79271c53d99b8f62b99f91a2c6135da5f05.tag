object ae6ec6124bb96157ca96bc90831b4874e8ad6789
type commit
tag gitgui-0.15.0
tagger Pat Thoyts <patthoyts@users.sourceforge.net> 1319027836 +0100

git-gui 0.15
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.11 (GNU/Linux)

iQCVAwUATp7EfGB90JXwhOSJAQJVzQP/apP6MMTNMi9YOgiELqGPB3qAv+Gnb33O
brZeMBooTsI92VnHwYKeEUiEMPl/4Gao9vmjJYuGiqp45ehehMrJpjvMneOm9ubc
AC0DdhH6jQ5Rnj3R70xSkbFgt7s5SgewirrBv0ZlrdMYAJrnufMX3DHLtHztGyVv
JPFniW9mww8=
=Ay4P
-----END PGP SIGNATURE-----
