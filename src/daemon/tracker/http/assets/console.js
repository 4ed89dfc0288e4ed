// lts console
