object 47ae905ffb98cc4d4fd90083da6bc8dab55d9ecc
type commit
tag v2.28.0
tagger Junio C Hamano <gitster@pobox.com> 1595811736 -0700

Git 2.28.0
-----BEGIN PGP SIGNATURE-----

iQIzBAABCAAdFiEE4fA2sf7nIh/HeOzvsLXohpav5ssFAl8eJ5kACgkQsLXohpav
5suhSxAA1s4/9kfdkQDokIA1seNm+l8+RAP3W1eGqmVd62/RRVoDR4ov5oMcIZqu
zVjtUiGgWa+pHpgIDRHbzXCnO/ccimTPc7ViwPvPOoju/67rOJB5VtpIgW8rE1on
Z/Oo19TU7kjLKBPQX9u1SU+VkeTOgWa15t2+DoUdWwln3F/+j2GJdjRlGxnyGJwS
78nG+UI9XXLQ4IXta0TbsH2OiChhCWZMAZ57EUEhg7zCEBCthEEclULYeGZ1m9BZ
IHCPwTPEWDfoh4ULFpHNyrpsq3cuTP2ayG5tyA2A1V/mMrmHgBb1Qha108hH7Gar
oa5SZ2NIksAotg4tIWX3yPOscqhsgFlcOswNWKr9KtWxyFRGsYJcc6q/ZpioobZd
rEgz4lgv1PJ3BtbtiJNn8+C/LqF8Wxrx/sxIT4B4kut/c6Ji8FPl4JZwEdPDvulN
TdDi3XTVltE3CwAKTR2TfamWdK2R3c4HYXKWWfvXfDKwoUh/rk9p/YukDAuHkcP2
RPhGnBqJwc+CF7iUOGBDtL86l+Vnb+ZPn7faxfW0Kockm9VIUio0IuCl3Tg+ErcO
9VhG0zzMjY1/jejkn9+6vKcLqh5NuAl+vbHKclt82ATJrqF0g6Qdi+ZvRiJsul+n
Iclr/GDemqDsiT31rTy89IyZ/n4P7GzarGJ3lfaBM+PXY4S63yY=
=my6Z
-----END PGP SIGNATURE-----
