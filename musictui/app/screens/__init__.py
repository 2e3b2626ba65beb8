"""The app's screens: train, generate, help."""
