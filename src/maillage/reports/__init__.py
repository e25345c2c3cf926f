"""The network's evaluation: indicators read from the store and the HTML/PDF report."""
