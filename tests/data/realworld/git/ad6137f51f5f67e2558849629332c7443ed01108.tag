object 8e1db3871c767cb17b5e0eeb7bea8d967821a055
type commit
tag v1.6.0-rc1
tagger Junio C Hamano <gitster@pobox.com> 1217196485 -0700

GIT 1.6.0-rc1
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.6 (GNU/Linux)

iD8DBQBIjPHIwMbZpPMRm5oRAjgYAJ9jAuTrhgQXfpRvVm3q/v8cFrd6mwCfffwm
RDuWg+2Xc0U/ru500bEVw1Q=
=CAk7
-----END PGP SIGNATURE-----
