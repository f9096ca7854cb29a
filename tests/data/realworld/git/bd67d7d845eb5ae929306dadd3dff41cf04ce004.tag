object 23ea3e201cea0deea909569e08e950a9ec2345f7
type commit
tag v0.99.9g
tagger Junio C Hamano <junkio@cox.net> 1131601984 -0800

GIT 0.99.9g
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.1 (GNU/Linux)

iD8DBQBDcuBEwMbZpPMRm5oRAsU2AJ44I4bhmRPb3lNPEl2Y+Rd1iwILzgCfVTdy
UfX4BU2lg63acwVdlVh6RHQ=
=BV4Z
-----END PGP SIGNATURE-----
