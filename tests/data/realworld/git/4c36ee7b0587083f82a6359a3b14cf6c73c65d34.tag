object fbc9629e2f0cd31ab08638ebbd8f98a323329a5b
type commit
tag gitgui-0.14.0
tagger Pat Thoyts <patthoyts@users.sourceforge.net> 1301097146 +0000

git-gui 0.14
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.7 (MingW32)

iQCVAwUATY0qumB90JXwhOSJAQL1jQQAmHGKVi15fiZnPDJM0q3vE7y0oML9aTQJ
YV7xA4Wu2Q0Nrx4Bt/qbLgks2sshky4w0pEbTSBSnlyjLOuNveQ2cgqciWWEVRE4
qIoHLrnrNEn5gfZ/AtwdbHIfYNUdQBWu+lS6mFl3f+P8/A79K5DTOlqDGIxzBOWY
lhqaK3Lzt+U=
=CNQW
-----END PGP SIGNATURE-----
