"""Users, roles and API tokens, recorded as events like everything else."""
