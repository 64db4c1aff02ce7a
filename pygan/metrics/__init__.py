"""GAN quality measures: mode coverage on 2-D mixtures, Frechet distance and KID on features."""
