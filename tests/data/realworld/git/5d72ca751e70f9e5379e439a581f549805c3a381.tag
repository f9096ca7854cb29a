object d9b9784f572a71b2f4ea0f8772b0d586ea0f848f
type commit
tag v1.6.4.1
tagger Junio C Hamano <gitster@pobox.com> 1250910991 -0700

GIT 1.6.4.1
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.9 (GNU/Linux)

iEYEABECAAYFAkqPYw8ACgkQwMbZpPMRm5qbUACfdI5zKsFMz12TDyFUPZeeMmNh
gKQAn0wUPDxaLe8w4Fexx+ARxMGI4J6o
=8tMl
-----END PGP SIGNATURE-----
