"""Side-by-side benchmark of micromailer against the 2016 baseline design."""
