object 552ce11006e39bd07efd79946f180df47aa35b4e
type commit
tag v1.5.3.3
tagger Junio C Hamano <gitster@pobox.com> 1191107493 -0700

GIT 1.5.3.3
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.6 (GNU/Linux)

iD8DBQBG/tuowMbZpPMRm5oRAsqfAJ91j5U05I7IKcfgAxZletbr1fe+qQCbBCSr
/TVrhEWhsDxcufWsqx44UfE=
=bH/Z
-----END PGP SIGNATURE-----
