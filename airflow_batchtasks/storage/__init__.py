"""Staging (files handed between steps) and archive (file history) on ObjectStoragePath."""
