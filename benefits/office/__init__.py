"""The credit office's partner screens: the partner manager onboards partners and looks after their benefits."""
