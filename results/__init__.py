"""Tables and plots built from run workdirs; imports json, csv and matplotlib, never jax."""
