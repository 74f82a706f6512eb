"""The identity domain: plain functions over the models; each call is one unit of work."""
