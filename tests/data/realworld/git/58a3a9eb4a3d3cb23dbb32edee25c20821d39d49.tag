object 438d2991eaa17549df67929cd4558d65840c37d7
type commit
tag v1.5.6.6
tagger Junio C Hamano <gitster@pobox.com> 1229494434 -0800

GIT 1.5.6.6
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAklImKIACgkQwMbZpPMRm5rdqwCdE0VnIUPlH+GUIhBAy7VfpUbj
5TIAn0DrRprF5CVLuNJzhdtZC8EzElQO
=r0WV
-----END PGP SIGNATURE-----
