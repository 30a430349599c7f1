from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0004_case_hearing_and_treatment_dates"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["team", "id"], name="case_team_id"),
        ),
    ]
