object 12be31d52f14d64c2528b0c8b1e2025613e4ed25
type commit
tag v0.0.1
tagger Aditya Sirish <aditya@saky.in> 1698277690 -0400

v0.0.1 (Testing release workflow)
-----BEGIN PGP SIGNATURE-----

iQEzBAABCAAdFiEE4ylBKZy4wNk9zyesuDEQ0BJUVgQFAmU5qToACgkQuDEQ0BJU
VgTn+Qf/RG/VOlqkXEW0bHeAUbbVSdqx9PfN8s5kJpyWokaK0xWajY4ICAZOl8ta
auQAlQCHUsoQR6CEWzJ+LRUgCxoOfWFAH7wtv9Xpa64DD/6dwScNf/zSytvCXu01
zMpuQlp5sHgeL9gDsOI4AHh2UNNEOh7qE6qrxD8F28VcpM57bXcY6HXo7aQgXU7a
Wzq7V6yo/NtTcPhflBczejEpgG6VBpE3lMEEK2joooxhQJ/CheqbplchFWCaGs9q
unaY6maKDvCMPedsPIiujbTt1YKJ4M7N0oMtZGmlVGkVD8A7AGehFOD+BOj946c+
uzITJ5It7k9j0Ujz+DNVf/fXzqlTgg==
=6Fvw
-----END PGP SIGNATURE-----
