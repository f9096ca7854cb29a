object 4498b3a50a0e839788682f672df267cbc1ba9292
type commit
tag gitgui-0.20.0
tagger Pat Thoyts <patthoyts@users.sourceforge.net> 1429355750 +0100

git-gui 0.20.0
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1

iQCVAwUAVTI85mB90JXwhOSJAQIAwAP+Lcm1TuAKXdiCMcYJFLPHhSvHJJRHPiN8
ydBIRP5UO6BJrmbo+w9tx3qAda4TS/crqRwSnRa5cXOWB+aDkuH8zm4IfkQKXIjI
qG4Q2t53q8vLBtRd6Y4uNlDQ04mh/J64E9tJoCaIzMj2m6W/Xizo2zslnOfo6F2Z
Z2rJhBMe1PY=
=4pD7
-----END PGP SIGNATURE-----
