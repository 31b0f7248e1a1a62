"""Writers that turn synthetic scenes into public dataset formats."""
