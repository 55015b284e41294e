import 'sightline';
