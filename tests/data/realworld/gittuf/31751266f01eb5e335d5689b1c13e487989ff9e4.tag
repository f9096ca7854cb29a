object 1d18dd1570ff1601b7deb83bb0a098b38f5764e3
type commit
tag v0.5.2
tagger Aditya Sirish <aditya@saky.in> 1721252863 -0400

v0.5.2
-----BEGIN PGP SIGNATURE-----

iQEzBAABCAAdFiEE4ylBKZy4wNk9zyesuDEQ0BJUVgQFAmaYO/8ACgkQuDEQ0BJU
VgTThwgAghd9oK2icGA3zBROOKT5hm5nPTOuXtvSkJ/LfV6fLdaWcu7T69OJiN5e
zfIk3fDXmAT0+N/K47Em7IjAWzotGlDl7OS9L5tSEa4QbIznswqtZmcigzeBNsrk
E+MDp04cMkV/b1bSyInLoqHNDSopQ9Tcbr+l91XboMQpflw//eHMb2xd7rIBFOTM
6VdvpWNugA+81ext0ELyorO+KpjMwNLVFaqWHYAvu2tX6LwPzAElrCcUUFWgRFP/
yy7jlDtoI9vXEySYhekEdjT7LA8Qc8koe/bwGSx1Da1Bm8QIZ29P5fdeLHpjFhnZ
49dT9kdd3vtq+afj1NsDptlRWaxlWg==
=BjfM
-----END PGP SIGNATURE-----
