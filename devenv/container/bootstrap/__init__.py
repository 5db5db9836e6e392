"""What a bootstrapped base needs beyond debootstrap: the archive keyring, and the apt
sources and settings of the official images."""
