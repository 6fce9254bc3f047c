"""tsadbench: Ray-distributed hyperparameter and benchmark orchestrator for multivariate TSAD."""
