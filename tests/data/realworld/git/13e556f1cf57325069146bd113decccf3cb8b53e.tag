object 00e9de72c8f9b7c048bb56a59be9567d69dc1e01
type commit
tag gitgui-0.13.0
tagger Pat Thoyts <patthoyts@users.sourceforge.net> 1284500602 +0100

git-gui 0.13.0
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.7 (MingW32)

iQCVAwUATI/semB90JXwhOSJAQInMwP/b8zjtVfOXMvXNs6dGhTuz9gfEjgPaNW6
7nxs1IFdnEAGEWIPDkGq3hUUZy7dkJ5QrzlVXkcQ1Jgh33ekL38jdubGFWYmxzg8
2EfIQsD1Snzsf97NeFm57vEcDTrWw3dIKDBekX68zfjL6cEVRuOlFD8k3ILbxw9O
9KscXNfdY7Y=
=sTCT
-----END PGP SIGNATURE-----
