"""TLS for the ensemble: the cluster's CA on the controller (:mod:`.ca`), what a certificate says (:mod:`.certs`)
and the phases a live ensemble goes through to turn TLS on or off (:mod:`.phases`)."""
