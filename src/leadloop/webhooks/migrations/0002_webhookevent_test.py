# Adds the on-demand test event to the choices of WebhookDelivery.event (no schema change).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='webhookdelivery',
            name='event',
            field=models.CharField(choices=[('lead.stage_changed', "A lead's stage changed"), ('lead.assigned', 'A lead was assigned'), ('webhook.test', 'Test event')], max_length=50),
        ),
    ]
