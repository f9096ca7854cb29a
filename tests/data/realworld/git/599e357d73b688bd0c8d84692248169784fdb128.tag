object 1b2c79e63e5afa3cecb3ab4a40cb414dbe6511ce
type commit
tag gitgui-0.19.0
tagger Pat Thoyts <patthoyts@users.sourceforge.net> 1390066238 +0000

git-gui 0.19.0
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.14 (GNU/Linux)

iQCVAwUAUtq6P2B90JXwhOSJAQK3zQP/T+cOevbKCwFl9mif3EtgPgCoFS9Yd/93
FYgoKxZh3t9i0Smo9EUggyEkx22v7vONwglGP1wCmCmniQRoaoTW4WBxJFJlEegt
Li/7OilkwTrSgu1RFZTtpW7zYpg08YrkehFTo6Ntye5gyxZeHsmgFv56f6Ef9Egj
qEf8xXLyjX4=
=IBoS
-----END PGP SIGNATURE-----
