"""Who may use the service, from where and how often: keys, projects, sites, limits, audit."""
