object 942e6baa92846e5628752c65a22bc4957d8de4d0
type commit
tag gitgui-0.16.0
tagger Pat Thoyts <patthoyts@users.sourceforge.net> 1323819949 +0000

git-gui 0.16.0
-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.4.11 (GNU/Linux)

iQCVAwUATufjrWB90JXwhOSJAQJ+oAP/UXhe0hvcWCypK0GBUc30vCCH5kLOjcXM
vpjY+CLY8ZZMuPd0z8iz50NZ08ZNFvF5Er/i9itYmsCs3R4jnLzYcA+d6x/XG1be
/9BS3trUlB+5W+kkaARBAgDEgn/yJm6yKtBG9fg4RzotW0TfBnrdH7VRROOVH+iJ
fJCdlKqM+ek=
=itUp
-----END PGP SIGNATURE-----
