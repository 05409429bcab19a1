"""Views that every deployment has, whatever objects it stores."""
