"""`python -m mraster.settings.regen_readme`: rewrite the README's configuration table from the schema."""
from pathlib import Path

from mraster.settings.docs import replace_readme_block


def main() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    readme.write_text(replace_readme_block(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
