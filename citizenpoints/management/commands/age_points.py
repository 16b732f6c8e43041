from django.core.management.base import BaseCommand

from citizenpoints.services.nightly import nightly_pass


class Command(BaseCommand):
    help = "Run the nightly pass now: age points out of the window, re-tier, award badges."

    def add_arguments(self, parser):
        parser.add_argument(
            "--all-badges", action="store_true", help="evaluate every resident's badges (after a badge rule changes)"
        )

    def handle(self, *args, all_badges, **options):
        result = nightly_pass(all_badges=all_badges)
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in result.items()))
