object 630fc7878b6fd1bc188d4916b64f4df37658df96
type commit
tag v1.7.4-rc3
tagger Junio C Hamano <gitster@pobox.com> 1295896071 -0800

Git 1.7.4-rc3
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAk09zgcACgkQwMbZpPMRm5pUqgCfUfjKi/Q1iHtjiDNvRyaLup/W
aC8An2AbSlw7FF+b/L02xnMBgyNiTKcp
=g7iE
-----END PGP SIGNATURE-----
